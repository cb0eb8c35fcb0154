"""Stage 3: runtimes. A backend (ONNX Runtime, PyTorch) builds, loads and runs the original and quantized model.

One module per backend behind `base.Backend`; `bench.Bench` makes one of each for the run, keyed by the
`framework:` value that picks it.
"""
