"""Workstation side: quantize a training run's model for the device and prove every artifact."""
