"""Layer 4: the homelab's infrastructure components, one module per component."""
