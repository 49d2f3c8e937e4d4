"""Model-based AoA estimation: covariance, channel order, DBF, MUSIC, ESPRIT, CRB.

Plain numpy/scipy; never imports GNU Radio (DESIGN section 2).

- ``covariance``: sample covariance, forward-backward averaging, spatial smoothing, snapshot counts
- ``order``: AIC / MDL channel order (Wax and Kailath 1985)
- ``doa``: DBF, MUSIC, root-MUSIC, ESPRIT (LS/TLS), 2D-ESPRIT and the ``estimate`` dispatcher
- ``crb``: deterministic and stochastic Cramer-Rao bounds (Stoica and Nehorai)
- ``coarray``: coarray signal model and DBF spectrum of the MoD-DNN paper (eqs 11-14)
"""

from . import coarray, covariance, crb, doa, order  # noqa: F401
