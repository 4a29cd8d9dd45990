function [status, lines, output] = bridge_probe(python, args, marker)
%BRIDGE_PROBE  Ask the worker script a question and read its answer after its marker line.
%   [STATUS, LINES, OUTPUT] = BRIDGE_PROBE(PYTHON, ARGS, MARKER) runs PYTHON -S bridge_worker.py
%   ARGS (--executable, --package, --diagnose, --serve status). STATUS is its exit status, LINES
%   the lines printed after the last line equal to MARKER ({} when there is none: the worker did
%   not answer; every line when MARKER is ''), OUTPUT all it printed. What a sitecustomize, a .pth
%   file or a launcher prints before the marker is not taken for the answer; \r\n line ends
%   (Windows) are split like \n.
%
%   A probe's stderr is captured with its output and never reaches the terminal: MATLAB's system()
%   captures it, Octave's lets it through, so the shell's "python3: not found" of a probe was shown
%   before the wrapper's own error saying the same (issue 21). Octave's system() always runs
%   /bin/sh on Unix, where 2>&1 is safe; MATLAB's may run csh, which has no 2>&1.
command = bridge_command(python, args);
if isunix && exist('OCTAVE_VERSION', 'builtin') ~= 0
  command = [command ' 2>&1'];
end
[status, output] = system(command);
all_lines = regexp(strtrim(output), '[\r\n]+', 'split');
start = find(strcmp(all_lines, marker), 1, 'last');
if isempty(marker)
  lines = all_lines;
elseif isempty(start)
  lines = {};
else
  lines = all_lines(start + 1:end);
end
end
