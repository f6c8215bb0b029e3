"""The training front-end: real numpy training whose every GEMM and transfer is traced.

``interfaces``: what a method and the loop need from any framework (ParamRef, Optimizer,
LayerInfo, Frontend). ``gemm``: the one matrix multiply and its observer hook. ``layers``: numpy
layers with explicit forward and backward; ``numpy_frontend`` puts them behind the interfaces.
``quant``: fixed-point quantisers. ``optim``: SGD and Adam. ``shadow``: the weights swapped in for the
GEMMs. ``data``: data sets. ``models``: network builders. ``methods``: FP32, QAT, RCT/APT, BNN.
``memory``: the training-memory ruler. ``workload``: workload files. ``iteration`` (the loop
body), ``tracer`` and ``trainer``: the loop that writes ``trace.jsonl.gz`` and ``metrics.json``.
"""
