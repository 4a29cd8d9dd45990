function C = bridge_call(caller, op, names, values, shape, option)
%BRIDGE_CALL  Run one convolution through the Python worker: the body of every bridge_conv* wrapper.
%   C = BRIDGE_CALL(CALLER, OP, NAMES, VALUES, SHAPE, OPTION) saves the operands VALUES under
%   NAMES, with OP and SHAPE, in a private temporary folder, runs the worker on it with the
%   interpreter chosen by BRIDGE_PYTHON(CALLER, OPTION) and returns the worker's C. Errors are
%   raised with MATLAB's identifier where the worker reports one, bridge:* identifiers otherwise.
%   SHAPE is the shape text of conv, conv2 and convn, or a struct of the operation's settings by
%   their job-file names (struct('padding', 'replicate', 'mode', 'conv') for imfilter), which
%   the MEX client sends as named values next to the operands, and a job file holds as variables.
%
%   The operands go uncompressed (-v6; in MATLAB, -v7.3 -nocompression for a variable beyond
%   v6's 2 GB) to a folder in RAM where there is one (/dev/shm on Linux), else in tempdir;
%   BRIDGE_TEMP (environment; several folders separated by pathsep are tried in order) or
%   getpref('bridge', 'tempdir') choose the place. A call that cannot create its folder, save, or
%   write its result in one place (out of room in /dev/shm) is run again in the next. With
%   getpref('bridge', 'autostart') true (or BRIDGE_AUTOSTART=1), a call that finds no warm
%   server starts one (see BRIDGE_SERVE).
%
%   With a warm worker running, the call skips the files and Python: the MEX client bridge_mex
%   (built on first use in Octave, by BRIDGE_SETUP in MATLAB) hands the operands to the worker from
%   memory and gets the result back as an array; where it is not built, the compiled client
%   bridge_client takes the file job to the worker without starting Python. Both fall back
%   silently: no worker, a refusal or a frozen worker runs the call through files, cold. Answers,
%   errors and identifiers are the same on every path.
[python, source, problem] = bridge_python(caller, option);
if ~isempty(problem)
  error('bridge:pythonNotFound', '%s', problem);
end
% Past launchers (pyenv's shim), once per session; a Python that is not there fails here, once.
[python, status] = bridge_resolve_python(python);
if bridge_cannot_run(status)
  bridge_fail(caller, python, source, status, '', '');
end
[C, route] = memory_call(caller, op, names, values, shape, python, source);
if strcmp(route, 'done')
  return
end
S = struct();
for k = 1:numel(names)
  S.(names{k}) = values{k};
end
S.op = op;
if isstruct(shape)  % an operation's settings, by their job-file names (filtering family)
  fields = fieldnames(shape);
  for k = 1:numel(fields)
    S.(fields{k}) = shape.(fields{k});
  end
else
  S.shape = shape;
end
places = temp_places();
for p = 1:numel(places)
  last = p == numel(places);
  [C, done] = attempt(caller, python, source, S, places{p}, last, route);
  if done
    return
  end
end
end

function [C, route] = memory_call(caller, op, names, values, shape, python, source)
% The call through the MEX client, from memory: ROUTE 'done' (C is the answer; a failed job has
% raised its error), 'files' (no MEX client or no warm worker: the file path may still ask one)
% or 'cold' (the worker was asked and refused, or was frozen: the file path runs cold).
C = [];
route = 'files';
operands = numel(values);
if isstruct(shape)  % the settings go as named values, as a job file holds them
  names = [names(:)', fieldnames(shape)'];
  values = [values(:)', struct2cell(shape)'];
  shape = '';  % (filter2's shape is one of them)
elseif ~(ischar(shape) && size(shape, 1) == 1 && numel(shape) <= 16 && ~isempty(shape) ...
    && all(isletter(shape)) && all(shape < 128))
  return  % the file path's error for it
end
if ~memory_operands(values, operands)
  return  % sparse, char, cell, struct, complex integers, unusual shapes: the file path's errors
end
folder = bridge_built('mex');
if isempty(folder) || ~mex_on_path(folder)
  return
end
package = bridge_package(python);
if isempty(package)
  return
end
[status, line, R] = bridge_mex(package, op, shape, strjoin(names, ','), values{:});
if status == 0
  C = R;
  route = 'done';
elseif status == -2
  route = 'cold';
elseif status > 0
  bridge_fail(caller, python, source, status, line, '');
end
end

function ok = memory_operands(values, operands)
% Operands (the first OPERANDS values) and settings that travel from memory exactly as a MAT
% file carries them: numeric or logical arrays, and a setting's text as one row of ASCII
% (Octave's char holds bytes, not UTF-16 codes). At most bridge_mex's MAX_VALUES values.
ok = numel(values) <= 12 && ~isempty(values);
for k = 1:numel(values)
  x = values{k};
  if ischar(x) && k > operands
    ok = ok && ndims(x) == 2 && size(x, 1) <= 1 && all(x < 128);
  else
    ok = ok && (isnumeric(x) || islogical(x)) && ~issparse(x) && ~(isinteger(x) && ~isreal(x));
  end
end
end

function ok = mex_on_path(folder)
% Put the MEX client's folder on the path (once), and check that it is this version's.
persistent added answer
if ~isempty(added) && strcmp(added, folder)
  ok = answer;
  return
end
if ~any(strcmp(strsplit(path, pathsep), folder))
  addpath(folder, '-end');
end
try
  ok = strcmp(bridge_mex('version'), 'bridge_mex 2');
catch
  ok = false;
end
added = folder;
answer = ok;
end

function [C, done] = attempt(caller, python, source, S, place, last, route)
% One try in the folder PLACE; DONE false: out of room there, try the next place.
C = [];
done = false;
try
  folder = bridge_make_folder(caller, place);
catch err
  if ~last
    return  % e.g. /dev/shm not writable here
  end
  rethrow(err);
end
cleanup = onCleanup(@() bridge_remove_folder(folder)); %#ok<NASGU> removes the folder however we leave
infile = fullfile(folder, 'in.mat');
outfile = fullfile(folder, 'out.mat');
errfile = fullfile(folder, 'error.txt');
% An explicit format: Octave's default is its own text format and MATLAB's is a preference.
% Uncompressed: compression costs more than the copy it saves (0.26 s for 8 MB in Octave).
how = save_format(S);
try
  save(infile, '-struct', 'S', how{:});
catch err
  if ~last
    return
  end
  rethrow(err);
end
args = {infile, outfile, '--error-file', errfile};
idle = autostart();
if ~isempty(idle)
  args = [{'--autostart', idle}, args];
end
if strcmp(route, 'cold')
  command = bridge_command(python, args, [], {'--cold'});
else
  client = bridge_built('client');
  package = '';
  if ~isempty(client)
    package = bridge_package(python);
  end
  if isempty(package)
    command = bridge_command(python, args);
  else
    command = bridge_command(python, args, [], {client, package});
  end
end
if exist('OCTAVE_VERSION', 'builtin') ~= 0
  [status, output] = system(command);  % stderr (a long job's progress) reaches the user
else
  % MATLAB's system() captures stderr with stdout: -echo shows a long job's progress lines as
  % they come, as bridge_batch does. A job writes nothing else there (its error: ERRFILE).
  [status, output] = system(command, '-echo');
end
if status == 4 && ~last
  return  % the result did not fit: try the next place
end
if status ~= 0
  bridge_fail(caller, python, source, status, bridge_worker_message(errfile, output), infile);
end
if exist(outfile, 'file') ~= 2
  error('bridge:noOutput', '%s', sprintf( ...
    '%s: Python %s exited with status 0 but wrote no result %s. Is it the bridge worker?', ...
    caller, python, outfile));
end
% load into a variable: a bare load breaks inside parfor.
R = load(outfile);
C = R.C;
done = true;
end

function places = temp_places()
% Where the per-call folder goes, in order of preference.
chosen = getenv('BRIDGE_TEMP');
if isempty(chosen) && ispref('bridge', 'tempdir')
  chosen = char(getpref('bridge', 'tempdir'));
end
if ~isempty(chosen)
  places = regexp(chosen, pathsep, 'split');  % several: tried in this order
  places = places(~cellfun(@isempty, places));
elseif isunix && ~ismac && exist('/dev/shm', 'dir') == 7
  places = {'/dev/shm', tempdir};
else
  places = {tempdir};
end
end

function format = save_format(S)
% -v6 (uncompressed MAT 5) where it holds every variable; MATLAB writes larger ones as v7.3,
% uncompressed. Octave cannot write v7.3.
format = {'-v6'};
if exist('OCTAVE_VERSION', 'builtin') == 0
  names = fieldnames(S);
  for k = 1:numel(names)
    info = whos_bytes(S.(names{k}));
    if info >= 2^31 - 1024
      format = {'-v7.3', '-nocompression'};
      return
    end
  end
end
end

function n = whos_bytes(x) %#ok<INUSD> whos sees x
w = whos('x');
n = w.bytes;
end

function idle = autostart()
% '' or the idle timeout (text, seconds) of a server the worker should start when none runs.
idle = '';
flag = getenv('BRIDGE_AUTOSTART');
if isempty(flag) && ispref('bridge', 'autostart')
  value = getpref('bridge', 'autostart');
  on = (islogical(value) || isnumeric(value)) && isscalar(value) && value;
else
  on = ~isempty(flag) && ~strcmp(flag, '0');
end
if ~on || ~isunix || ismac
  return
end
seconds = 1800;
if ispref('bridge', 'idletimeout')
  seconds = double(getpref('bridge', 'idletimeout'));
end
idle = sprintf('%g', seconds);
end
