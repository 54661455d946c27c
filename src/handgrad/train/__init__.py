"""Training on real data with the solver's engine: data, optimizers, the loop, models."""
