"""report.html of an exported recording (`alertbutton evidence export`, export.py): the timeline,
each chunk's position with map links, the hashes, the verdict of the verification, and how to check
the export independently. Everything shown comes from the manifest export.py derived from the chunks.
"""
import html


def clock(ms):
    sign = "-" if ms < 0 else "+"
    ms = abs(ms)
    return "%s%02d:%02d.%03d" % (sign, ms // 60000, ms // 1000 % 60, ms % 1000)


def report_html(m, manifest_sha):
    """The report, from the manifest alone (verify regenerates it and compares it byte for byte)."""
    e = html.escape
    v = m.get("export_verdict") or {}
    problems = v.get("problems") or []
    rows = []
    for c in m["chunks"]:
        pos = c["position"]
        if pos:
            links = c["map"]
            where = ('%.5f, %.5f &plusmn;%d m%s<br><a href="%s">OpenStreetMap</a> &middot; <a href="%s">Google Maps</a>'
                     % (pos["lat"], pos["lon"], pos["acc_m"],
                        "" if pos["age_s"] is None else " (fix %d s old)" % pos["age_s"],
                        e(links["osm"]), e(links["google"])))
        else:
            where = "unknown"
        flags = [f for f in ("prealert", "final", "interrupted", "gap", "flash_full") if c[f]]
        rows.append(
            "<tr><td>%d</td><td>%s</td><td>%s</td><td>%.1f s</td><td>%d</td><td>%s</td><td>%s</td>"
            "<td><code>%s</code><br><small>prev <code>%s</code></small></td>"
            "<td><audio controls preload=\"none\" src=\"%s\"></audio><br><a href=\"%s\">%s</a></td></tr>"
            % (c["index"], e(c["start_utc"] or "clock not set"), clock(c["offset_ms"]), c["duration_s"], c["alert"],
               e(", ".join(flags) or "-"), where, c["sha256"], c["prev_sha256"], e(c["wav"]), e(c["wav"]),
               e(c["wav"])))
    verdict = ('<p class="ok">No problem found at export: every chunk is linked to the previous one by its SHA-256 '
               'and matches this manifest.</p>' if not problems else
               '<p class="bad">PROBLEMS FOUND:</p><ul>%s</ul>' % "".join("<li>%s</li>" % e(p) for p in problems))
    verdict += "<h2>What is anchored</h2><ul>%s</ul>" % "".join("<li>%s</li>" % e(x) for x in
                                                                 v.get("coverage") or ["no anchor was given"])
    verdict += "<h2>Notes</h2><ul>%s</ul>" % "".join("<li>%s</li>" % e(x) for x in v.get("notes") or [])
    verdict += ("<p>Fields of manifest.json that nothing in the export can check (shown as given, not verified): "
                "<code>%s</code>.</p>" % e(", ".join(m.get("not_verified") or [])))
    return """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sound evidence - recording %(rec)s</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #999;
padding:4px 6px;vertical-align:top;font-size:13px}code{font-size:11px}.ok{color:#060}.bad{color:#a00;font-weight:bold}</style>
</head><body>
<h1>Sound evidence: recording %(rec)s</h1>
<table>
<tr><th>device id</th><td><code>%(dev)s</code></td></tr>
<tr><th>alert(s)</th><td>%(alerts)s</td></tr>
<tr><th>start (first chunk, UTC)</th><td>%(start)s</td></tr>
<tr><th>total duration</th><td>%(dur).1f s in %(n)d chunks (%(complete)s)</td></tr>
<tr><th>chain head (SHA-256 of the last chunk)</th><td><code>%(head)s</code></td></tr>
<tr><th>manifest.json SHA-256</th><td><code>%(msha)s</code></td></tr>
<tr><th>exported</th><td>%(at)s from %(src)s</td></tr>
</table>
%(verdict)s
<h2>Timeline</h2>
<p>Times and positions are <b>claims of the device</b>: those of its clock and its GNSS receiver, written by
the button; a signature of the button proves it wrote them, not that they are right. "from alert" counts from the
moment the alert was triggered; the pre-alert chunk holds the sound of the seconds before it.</p>
<table><tr><th>chunk</th><th>start (UTC)</th><th>from alert</th><th>duration</th><th>alert</th><th>flags</th>
<th>position at chunk start</th><th>SHA-256 (and previous chunk's)</th><th>audio</th></tr>
%(rows)s
</table>
<h2>How to check this export independently</h2>
<ol>
<li>This folder is a BagIt bag (RFC 8493): <code>bagit.py --validate FOLDER</code> checks every file
against <code>manifest-sha256.txt</code> and <code>tagmanifest-sha256.txt</code> (which covers this report
and manifest.json).</li>
<li>Each file in <code>data/chunks/</code> is a recording chunk as the device wrote it (opened from the
device's sealed file in <code>data/sealed/</code> when it is sealed to the association). Its SHA-256
(<code>sha256sum data/chunks/*.evc</code>) must equal the value in the table.</li>
<li>Bytes 68 to 99 of each chunk's header hold the SHA-256 of the previous chunk file (32 zero bytes for
chunk 0): removing, reordering, inserting or altering any chunk breaks this chain.</li>
<li>The last chunk carries the FINAL flag; its SHA-256 (the chain head above) should be written down
or sent to a third party at export time, so that the last chunk too can be checked later.</li>
<li>The audio is IMA-ADPCM (WAV block layout, 256-byte blocks of 505 samples, %(rate)d Hz); the WAV files
are its 16-bit PCM decoding. <code>alertbutton evidence verify DIR --device-key KEY --association-key FILE</code>
repeats all of these checks, checks the button's signed heads (<code>data/heads.abh</code>) and any other anchor
(a head from the platform, a reference from an SMS) and says which chunks each one covers.
docs/evidence.md describes every byte.</li>
</ol>
</body></html>
""" % {"rec": m["recording"], "dev": e(str(m["device_id"])), "alerts": e(", ".join(str(a) for a in m["alerts"])),
       "start": e(str(m["chunks"][0]["start_utc"] if m["chunks"] else "-")), "dur": m["duration_s"],
       "n": len(m["chunks"]), "complete": "complete" if m["complete"] else "NO FINAL CHUNK",
       "head": m["chain_head"], "msha": manifest_sha, "at": e(str(m["exported_at"])),
       "src": e(str(m["exported_from"])), "verdict": verdict, "rows": "\n".join(rows),
       "rate": m["chunks"][0]["sample_rate"] if m["chunks"] else 8000}
