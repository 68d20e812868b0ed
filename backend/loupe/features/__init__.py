"""Sparse autoencoder features: the SAE type (SAELens format), features in runs, dashboards."""
