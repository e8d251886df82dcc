"""foc-proxy: the gRPC daemon in the device's normal world that runs transactions on the TA.

``pool`` (pre-opened sessions, crash recovery, counters), ``server`` (invocation.Invocation),
``client`` (ProxyClient, used by the wrapper), ``config`` and ``__main__`` (the daemon).
"""
