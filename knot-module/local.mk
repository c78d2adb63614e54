# mod-haltgslb (knotd query module).
