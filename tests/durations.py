"""`label<TAB>seconds` of every test in a JUnit XML report (pytest --junitxml), for run.sh's table of the slowest.

    python tests/durations.py junit.xml"""
import sys
import xml.etree.ElementTree as ET

if __name__ == '__main__':
    for case in ET.parse(sys.argv[1]).getroot().iter('testcase'):
        name = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}"
        print(f"test {name}\t{float(case.get('time') or 0):.1f}")
