"""`alertbutton keys association new --out FILE`: the association's X25519 key pair. The button seals
its recordings to the public key (the technician provisions it); the secret key file (mode 0600, never
overwritten) is what `alertbutton evidence export|verify --association-key FILE` opens them with.
Keep it off any shared drive: whoever has it can listen to every recording sealed to it."""
import binascii
import os
import sys

from alertbutton.evidence import seal


def add_association_actions(a):
    """`alertbutton keys association new|show`: on this computer, no button needed."""
    asub = a.add_subparsers(dest="assoc_action", metavar="ACTION")
    n = asub.add_parser("new", help="make a new key pair; prints the public key to provision on the buttons")
    n.add_argument("--out", required=True, help="secret key file to create (mode 0600; never overwritten)")
    s = asub.add_parser("show", help="print the public key of a key file")
    s.add_argument("file")


def run_association(args):
    action = getattr(args, "assoc_action", None)
    if action not in ("new", "show"):
        print("usage: alertbutton keys association new --out FILE | show FILE", file=sys.stderr)
        return 2
    if action == "show":
        try:
            _secret, public = seal.load_association_key(args.file)
        except ValueError as e:
            print("error: %s" % e, file=sys.stderr)
            return 2
        print(binascii.hexlify(public).decode())
        return 0
    pub_path = args.out + ".pub"  # what the technician gives `alertbutton keys set-association`
    for path in (args.out, pub_path):
        if os.path.lexists(path):
            print("error: %s already exists: it is not overwritten (it may belong to the key that opens your "
                  "recordings). Give another --out." % path, file=sys.stderr)
            return 2
    try:
        public = seal.new_association_key(args.out)
        with open(pub_path, "x") as f:
            f.write(binascii.hexlify(public).decode() + "\n")
    except FileExistsError:
        print("error: %s already exists: it is not overwritten (it may be the key that opens your recordings). "
              "Give another --out." % args.out, file=sys.stderr)
        return 2
    except OSError as e:
        print("error: cannot create %s (%s)" % (args.out, e), file=sys.stderr)
        return 2
    print(binascii.hexlify(public).decode())
    print("secret key written to %s (mode 0600): keep it safe and private; the public key above is also in %s: "
          "give that file to the technician (alertbutton keys set-association %s)" % (args.out, pub_path, pub_path),
          file=sys.stderr)
    return 0
