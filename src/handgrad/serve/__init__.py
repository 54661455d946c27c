"""The playground: a local web page over handgrad (handgrad serve)."""
