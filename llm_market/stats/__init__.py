"""Statistics of the model's output: stylized facts and calibration to real prices."""
