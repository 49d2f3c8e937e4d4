"""Model-based AoA estimation: covariance, channel order, DBF, MUSIC, ESPRIT, CRB.

Plain numpy/scipy; never imports GNU Radio (DESIGN section 2).
"""
