"""Applications of trained models and helpers they need."""
