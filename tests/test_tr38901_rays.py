"""TR 38.901 7.5 steps 8 and 11 in the stochastic models: the LOS ray on top of cluster 1, the
sub-clusters of the two strongest clusters (Table 7.5-5 ray mapping, c_DS of Table 7.5-6),
the ray offsets c_ASD alpha_m / c_ASA alpha_m (Table 7.5-3) and the random ray coupling;
the spreads of the large-scale parameters against Table 7.5-6.

Per-table numbers are typed in from the TR independently of ``sim/tr38901.py``; statistical
tolerances are 4 standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from gnuradio.srsaoa.sim import standard as S
from gnuradio.srsaoa.sim import tr38901 as T

ALPHA = np.array(  # Table 7.5-3, m = 1..20
    [0.0447, 0.1413, 0.2492, 0.3715, 0.5129, 0.6797, 0.8844, 1.1481, 1.5195, 2.1551]
).repeat(2) * np.tile([1.0, -1.0], 10)
# Table 7.5-5 (1-based ray numbers) and the sub-cluster delay offsets in units of c_DS
SUB_RAYS_1BASED = ([1, 2, 3, 4, 5, 6, 7, 8, 19, 20], [9, 10, 11, 12, 17, 18], [13, 14, 15, 16])
SUB_DELAY = (0.0, 1.28, 2.56)
# Table 7.5-6 part 1, UMi street canyon: c_DS (ns), c_ASD, c_ASA, c_ZSA (deg)
UMI = {True: (5.0, 3.0, 17.0, 7.0), False: (11.0, 10.0, 22.0, 7.0)}


def _umi(rng, los, aoa=20.0, d=60.0):
    return S.stochastic_draw("UMi", rng, aoa, carrier_frequency_hz=3.5e9, distance_m=d, los=los)


def test_tables_7_5_3_and_7_5_5_as_typed():
    np.testing.assert_array_equal(T.RAY_OFFSETS, ALPHA)
    assert T.SUBCLUSTER_RAYS == tuple(tuple(r - 1 for r in g) for g in SUB_RAYS_1BASED)
    assert T.SUBCLUSTER_DELAY_FACTORS == SUB_DELAY
    for los, (c_ds, c_asd, c_asa, c_zsa) in UMI.items():
        tab = T.lsp_table("UMi", los, 3.5, 60.0, 10.0, 1.5)
        assert math.isclose(tab["c_ds"], c_ds * 1e-9)
        assert (tab["c_asd"], tab["c_asa"], tab["c_zsa"]) == (c_asd, c_asa, c_zsa)
    assert T.C_DS_DEFAULT_NS == 3.91


@pytest.mark.parametrize("los", [True, False])
def test_subclusters_of_the_two_strongest_clusters(los):
    """Step 11: the two strongest clusters (by their NLOS power) are split into three
    sub-clusters with rays 10/6/4 of 20 (Table 7.5-5) at tau_n + {0, 1.28, 2.56} c_DS; every
    other cluster has its 20 rays at tau_n. Step 8: gNB azimuths c_ASD alpha_m around the
    cluster (each ray keeps its alpha_m, so the sub-cluster takes Table 7.5-5's offsets), UE
    azimuths a permutation of c_ASA alpha_m within each sub-cluster."""
    c_ds, c_asd, c_asa, _ = UMI[los]
    rng = np.random.default_rng(5)
    for _ in range(10):
        d = _umi(rng, los)
        n = d.clusters["delay_s"].size
        p = d.clusters["power"]
        strongest = set(np.argsort(p)[::-1][:2].tolist())
        for c in range(n):
            sel = np.flatnonzero(d.ray_cluster == c)
            assert sel.size == 20
            dl = d.ray_delay_s[sel] - d.clusters["delay_s"][c]
            off = S._wrap180(d.ray_azimuth_deg[sel] - d.clusters["azimuth_deg"][c])
            np.testing.assert_allclose(off, c_asd * ALPHA, atol=1e-9)
            np.testing.assert_allclose(d.ray_power[sel], d.ray_power[sel][0], rtol=1e-12)
            if c not in strongest:
                np.testing.assert_allclose(dl, 0.0, atol=1e-15)
                continue
            for rays, k in zip(SUB_RAYS_1BASED, SUB_DELAY):
                idx = np.asarray(rays) - 1
                np.testing.assert_allclose(dl[idx], k * c_ds * 1e-9, atol=1e-15)
                ue_az = d.ray_ue_azimuth_deg[sel][idx]
                ue = S._wrap180(ue_az - ue_az[0])
                np.testing.assert_allclose(
                    np.sort(ue - ue.mean()),
                    np.sort(c_asa * ALPHA[idx] - np.mean(c_asa * ALPHA[idx])),
                    atol=1e-6,
                )


def test_los_ray_on_cluster_1_with_k_factor_scaling():
    """Step 11 (eq. 7.5-30): H = sqrt(1/(K_R+1)) H_NLOS + sqrt(K_R/(K_R+1)) H_LOS with the
    LOS ray at the delay of cluster 1 (0) and the LOS direction; cluster 1 centred on the LOS
    (7.5-12), so its sub-cluster 1 arrives at the LOS delay around the LOS direction."""
    rng = np.random.default_rng(6)
    for _ in range(10):
        d = _umi(rng, True)
        k_r = 10 ** (d.lsp["K"] / 10)
        los = d.ray_cluster == -1
        assert los.sum() == 1
        assert math.isclose(d.ray_power[los][0], k_r / (k_r + 1), rel_tol=1e-12)
        assert math.isclose(d.ray_power[~los].sum(), 1 / (k_r + 1), rel_tol=1e-12)
        assert d.ray_delay_s[los][0] == 0.0 == d.clusters["delay_s"][0]
        c1 = np.flatnonzero(d.ray_cluster == 0)[np.asarray(SUB_RAYS_1BASED[0]) - 1]
        np.testing.assert_allclose(d.ray_delay_s[c1], 0.0, atol=1e-15)
        off = S._wrap180(d.ray_azimuth_deg[c1] - d.los_azimuth_deg)
        np.testing.assert_allclose(
            np.sort(off), np.sort(np.r_[3.0 * ALPHA[:8], 6.4653, -6.4653]), atol=1e-9
        )


def test_aod_zod_coupling_is_random():
    """Step 8 couples AOD with ZOD at random within a (sub-)cluster: across rays the gNB
    azimuth and zenith offsets are uncorrelated, and the zenith offsets of a sub-cluster are a
    permutation of c_ZSD alpha_m over its own rays (c_ZSD = 3/8 10^mu_lgZSD)."""
    rng = np.random.default_rng(8)
    xs, ys = [], []
    for _ in range(40):
        d = _umi(rng, True)
        tab = T.lsp_table("UMi", True, 3.5, 60.0, 10.0, 1.5)
        c_zsd = 3 / 8 * 10 ** tab["ZSD"][0]
        p = d.clusters["power"]
        strongest = set(np.argsort(p)[::-1][:2].tolist())
        for c in range(d.clusters["delay_s"].size):
            sel = np.flatnonzero(d.ray_cluster == c)
            daz = S._wrap180(d.ray_azimuth_deg[sel] - d.clusters["azimuth_deg"][c])
            # fold back exactly as the draw does (zenith angles stay in [0, 180])
            dze = d.ray_zenith_deg[sel] - d.clusters["zenith_deg"][c]
            if not np.allclose(np.sort(np.abs(dze)), np.sort(c_zsd * np.abs(ALPHA)), atol=1e-6):
                continue  # a ray folded at a pole: skip this cluster
            groups = SUB_RAYS_1BASED if c in strongest else (list(range(1, 21)),)
            for g in groups:
                idx = np.asarray(g) - 1
                np.testing.assert_allclose(
                    np.sort(dze[idx]), np.sort(c_zsd * ALPHA[idx]), atol=1e-6
                )
            xs.extend(daz)
            ys.extend(dze)
    r = np.corrcoef(xs, ys)[0, 1]
    assert abs(r) < 4 / math.sqrt(len(xs) / 20)  # rays of one cluster: ~1 dof per cluster


def test_ray_coupling_permutes_within_groups():
    rng = np.random.default_rng(9)
    for _ in range(20):
        p = S.ray_coupling(rng, 20, T.SUBCLUSTER_RAYS)
        assert sorted(p) == list(range(20))
        for g in T.SUBCLUSTER_RAYS:
            assert sorted(p[list(g)]) == sorted(g)


@pytest.mark.parametrize("model", T.STOCHASTIC_MODELS)
@pytest.mark.parametrize("los", [True, False])
def test_angle_spread_sigmas_per_table(model, los):
    """The log-normal spreads' standard deviations (Table 7.5-6 sigma_lgASD, sigma_lgASA,
    sigma_lgZSD, sigma_lgZSA), from the interquartile range (the 104 / 52 deg caps cut only
    the upper tail; a parameter whose cap lies below its 80th percentile is skipped)."""
    h_bs, h_ut, d = T.DEFAULT_GEOMETRY[model]
    tab = T.lsp_table(model, los, 3.5, d, h_bs, h_ut)
    rng = np.random.default_rng([31, T.STOCHASTIC_MODELS.index(model), int(los)])
    n = 3000
    draws = [S.draw_lsp(tab, rng) for _ in range(n)]
    caps = {"ASD": 104.0, "ASA": 104.0, "ZSD": 52.0, "ZSA": 52.0}
    for key, cap in caps.items():
        mu, sigma = tab[key]
        if math.log10(cap) < mu + 0.8416 * sigma:
            continue
        lg = np.log10([x[key] for x in draws])
        q25, q75 = np.percentile(lg, [25, 75])
        est = (q75 - q25) / 1.349
        assert abs(est - sigma) < 4 * 1.17 * sigma / math.sqrt(n), (key, est, sigma)
