"""pytest-quantbench: int8 quantization regressions of Hugging Face models on ONNX Runtime as failing tests.

Importing this package is cheap on purpose: the heavy libraries (optimum, transformers, datasets,
evaluate, onnxruntime) load only when a case first needs them, so `pytest --help` stays fast.
"""

__version__ = "0.1.0"
