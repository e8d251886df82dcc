"""The peer-side chaincodes that forward to the TA through foc-proxy, side by side.

plaintext     FocWrapper: FOC's plaintext wrapper (function and arguments in clear)
confidential  ConfidentialChaincode (`__invoke` / `__endorse`, FPC's split) and ProxyEnclave
config        how the wrapper finds its proxy (FOC_PROXY_*, foc.toml)
catalogue     which chaincodes a peer hosts, built in one place for every back end
"""
