#!/bin/sh
# Stands in for ssh in the deploy test: runs the "remote" command on this machine.
shift  # the host
exec sh -c "$*"
