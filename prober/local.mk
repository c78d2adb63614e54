# haltgslb-prober and haltgslb-syncd.
