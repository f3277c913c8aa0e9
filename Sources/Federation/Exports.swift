// The rules (mean, median, trimmed mean, Krum) are shared with the enclave.
@_exported import Aggregation
