# haltgslb-ctl and haltgslb-dump.
