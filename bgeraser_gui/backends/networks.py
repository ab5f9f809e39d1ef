"""The torch networks by architecture name; importing this needs torch but not onnx."""

from __future__ import annotations

from bgeraser_gui.core.errors import ModelError


def build_network(arch: str):
    """A fresh, BatchNorm-free torch module for `arch`."""
    from bgeraser_gui.backends.isnet import ISNet
    from bgeraser_gui.backends.u2net import U2Net

    builders = {"isnet": ISNet, "u2net": U2Net, "u2netp": lambda: U2Net(small=True)}
    if arch not in builders:
        raise ModelError(f"no torch implementation for architecture {arch!r}")
    return builders[arch]()
