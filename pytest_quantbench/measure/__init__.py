"""Stage 6: measurements. Accuracy (predictions scored by `evaluate` metrics), timing, and the machine facts."""
