"""Fall detection on the host: MobiFall trials, the detector evaluated in the VM, its second stage trained, plots."""
