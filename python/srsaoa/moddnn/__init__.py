"""moddnn"""
