"""Hook points, attention probe and interventions."""
