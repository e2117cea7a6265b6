"""Label models: turn a label matrix into probabilistic labels without ground truth."""
