# What the wearer does with the button and feels back: gesture recognition, press bursts
# (cancel, duress, check-in), the press that woke the chip, haptic codes.
