# Entry point: pick the board profile and run the firmware.
import boards
from firmware import app

app.main(boards.select())
