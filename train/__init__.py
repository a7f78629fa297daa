"""Workstation side: prepare face crops, split without leakage, fine-tune MobileNetV2, evaluate."""
