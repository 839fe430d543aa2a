#!/usr/bin/env python3
"""check_svg.py FILE [MIN_POLYLINES]: FILE parses as XML, its root is an
SVG element with a size, and it draws at least MIN_POLYLINES (default 1)
<polyline> or <path> curves with points."""
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"
path = sys.argv[1]
need = int(sys.argv[2]) if len(sys.argv) > 2 else 1
try:
    root = ET.parse(path).getroot()
except ET.ParseError as e:
    sys.exit("check_svg: %s: not XML: %s" % (path, e))
if root.tag != NS + "svg" or not root.get("width") or not root.get("height"):
    sys.exit("check_svg: %s: the root is %s, not a sized <svg>" % (path, root.tag))
curves = [e for e in root.iter() if e.tag in (NS + "polyline", NS + "path")
          and (e.get("points") or e.get("d"))]
if len(curves) < need:
    sys.exit("check_svg: %s: %d curves, expected at least %d" % (path, len(curves), need))
print("check_svg: %s: %d curves" % (path, len(curves)))
