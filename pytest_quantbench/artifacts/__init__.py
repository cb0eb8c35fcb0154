"""Stage 2: artifacts. Where models and data come from, the fp32 export, calibration, quantization, and the
on-disk cache that keeps every built thing (content-keyed, never half-written)."""
