"""The stance model: the encoder (body), the heads, training, evaluation,
labelling turns with it."""
