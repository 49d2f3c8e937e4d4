"""PDU metadata keys, tag keys and port names (DESIGN section 6).

The C++ side defines the same names in include/gnuradio/srsaoa/constants.h;
tests/test_constants.py checks that the two lists agree.
"""

# PDU meta keys
SRS_OCCASION = "srs_occasion"
SAMPLE_INDEX = "sample_index"
RX_TIME = "rx_time"
SHAPE = "shape"
SUBCARRIERS = "subcarriers"
SCS_HZ = "scs_hz"
SNR_DB = "snr_db"
CFO_HZ = "cfo_hz"
NUM_SNAPSHOTS = "num_snapshots"
OCCASIONS = "occasions"
FORWARD_BACKWARD = "forward_backward"
METHOD = "method"
ORDER = "order"
AOA_DEG = "aoa_deg"
DELAY_S = "delay_s"
POWER = "power"
CRB_DEG = "crb_deg"
FRACTIONAL_OFFSET = "fractional_offset"  # samples: true slot start = sample_index + this
# flow control (docs/performance.md): inputs a branch dropped so far (live overload), an
# occasion a stage finished without an output (a skip notice), the sink that acknowledges
DROPPED = "dropped"
SKIPPED = "skipped"
CONSUMER = "consumer"

# Stream tags
TAG_SRS_START = "srs_start"
TAG_OCCASION = "occasion"
TAG_METRIC = "metric"
# (srs_start also carries CFO_HZ and FRACTIONAL_OFFSET)
# UHD tags that are read, never invented
TAG_RX_TIME = "rx_time"
TAG_RX_RATE = "rx_rate"
TAG_RX_FREQ = "rx_freq"

# Message ports
PORT_CFR = "cfr"
PORT_COVARIANCE = "covariance"
PORT_RESET = "reset"
PORT_ESTIMATE = "estimate"
PORT_SKIPPED = "skipped"  # skip notices: down the branch (data ports) to its result_sink
PORT_ACK = "ack"  # result_sink -> cfr_extractor: the branch has finished up to sample_index
LOS_INDEX = "los_index"  # estimate PDU: index of the earliest significant path (estimation.los)
LOS_EDGE = "los_edge"  # estimate PDU: True when aoa_deg[los_index] is the leading-edge angle
RESOURCE = "resource"  # Python-only: the SRS resource (UE) id of an estimate (docs/multi_ue.md)
FLAGS = "flags"  # estimate PDU: list of strings, e.g. "outside_domain" (MoD-DNN)
