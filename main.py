# Entry point. The board profile is built first: that arms the button interrupt before the rest of
# the firmware is even imported, so presses made while it loads are kept (and a press that woke the
# chip counts toward the gesture).
import boards

board = boards.select()

from firmware import app  # noqa: E402

app.main(board)
