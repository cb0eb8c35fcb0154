"""Stage 5: runtimes. A backend (ONNX Runtime, PyTorch, or a user's) owns one engine: it builds, loads and runs
the original and quantized model, and answers what the diagnoses ask of its engine, or says it cannot.

One module per backend behind `base.Backend` (ONNX Runtime's settings, graph inspection and hardware check in
the `onnxruntime_*` modules beside it); `bench.Bench` makes one of each the run's registry knows, keyed by the
`framework:` value that picks it. Nothing outside this stage (and the registry's list of built-in backends)
names an engine.
"""
