"""The calibration recipe: pixel cross-correlation loop, group peak fits, quality metrics."""
