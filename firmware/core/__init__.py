# Codecs and value types shared by the drivers, the device logic and the host tools: SMS
# PDUs (GSM-7, SMS-SUBMIT, SMS-DELIVER, status reports, concatenation), NMEA, IMA-ADPCM, the evidence
# chunk format, Fix, the modem error types, phone-number and APN rules, wrap-safe time. Imports
# nothing else of the project.
