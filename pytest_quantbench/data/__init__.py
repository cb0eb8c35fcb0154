"""Stage 4: datasets in, model inputs out: loading splits with `datasets`, encoding them with the model's own processor."""
