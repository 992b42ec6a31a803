# Fall detection: the streaming detector, its generated model and the accelerometer monitor
# with its cancel window.
