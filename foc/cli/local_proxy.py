"""Moved: the native proxy's process management lives in the native target (`foc.deploy.native`).

A re-export for importers not yet updated (foc/client/network.py); remove once they import
`foc.deploy.native` directly.
"""

from foc.deploy.native import LocalProxy, free_port

__all__ = ["LocalProxy", "free_port"]
