# Sound evidence: the pre-alert ring, the recorder and the hash-chained chunks on flash.
