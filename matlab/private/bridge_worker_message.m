function line = bridge_worker_message(errfile, output)
%BRIDGE_WORKER_MESSAGE  The worker's one-line error, from its error file or its output.
% The worker's one-line error: from its error file, else the last line it printed (MATLAB's
% system() also captures stderr, which has the shell's "command not found").
line = '';
fid = fopen(errfile, 'r');
if fid >= 0
  line = fgetl(fid);
  fclose(fid);
end
if ~ischar(line) || isempty(strtrim(line))
  lines = regexp(strtrim(output), '[\r\n]+', 'split');
  line = lines{end};
end
line = strtrim(line);
end
