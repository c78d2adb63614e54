# Operator documentation, installed into $(docdir).
