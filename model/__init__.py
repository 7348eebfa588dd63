"""The venue's shared vocabulary: order enums, reject reasons and market specs.

Everything here is plain data with no dependency on the engine or the risk layer, so both
can use it (risk never imports engine).
"""
