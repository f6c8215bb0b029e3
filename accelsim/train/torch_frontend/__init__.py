"""The PyTorch front-end: train and trace any ``torch.nn.Module`` with accelsim's methods.

A workload names a model factory (``model.torch: models.py:build``);
``frontend_factory.build_frontend`` calls :meth:`TorchFrontend.build`. Torch autograd runs
forward and backward; every GEMM (``F.linear``, ``F.conv2d``, ``matmul``/``@``/``bmm``) goes
through ``accelsim.train.gemm``'s observers in all three phases (:mod:`.capture`,
:mod:`.gemms`), so the methods of ``accelsim.train.methods`` quantise its operands and the
tracer records it exactly as for the numpy layers; ``describe`` gives the layers by shape
(:mod:`.rules`) for the memory model and shape-only traces. ``docs/models.md`` says how to
bring a model and what is captured. Importing this package imports torch.
"""

from accelsim.train.torch_frontend.frontend import TorchFrontend, TorchParam, load_factory

__all__ = ["TorchFrontend", "TorchParam", "load_factory"]
