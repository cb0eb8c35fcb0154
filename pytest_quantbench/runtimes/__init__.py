"""Stage 3: runtimes. A backend (ONNX Runtime, PyTorch) builds, loads and runs the original and quantized model."""
