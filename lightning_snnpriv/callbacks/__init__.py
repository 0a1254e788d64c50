"""Lightning callbacks: the end-of-fit membership-inference audit."""

from lightning_snnpriv.callbacks.mia import MembershipInferenceCallback

__all__ = ["MembershipInferenceCallback"]
