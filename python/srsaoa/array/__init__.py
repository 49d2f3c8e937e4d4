"""Array geometry, steering vectors, hardware impairment models and phase calibration.

Plain numpy; never imports GNU Radio (DESIGN section 2).
"""
