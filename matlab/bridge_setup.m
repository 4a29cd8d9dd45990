function [mexfolder, client] = bridge_setup(varargin)
%BRIDGE_SETUP  Build the compiled clients that make warm wrapper calls fast (once per machine).
%   BRIDGE_SETUP builds, from the C sources in matlab/private, the MEX client bridge_mex (it hands
%   the operands to the warm worker from memory and gets the result back as an array: no files,
%   no process started) with MATLAB's mex (Octave: mkoctfile --mex), and the command-line client
%   bridge_client (a warm file job without starting Python) with cc, and says where they are.
%   They go to a cache folder, never into the installation: BRIDGE_BUILD_CACHE, else
%   getpref('bridge', 'buildcache'), else $XDG_CACHE_HOME/bridge or ~/.cache/bridge, in a
%   subfolder named after the sources' checksum (an edited source is built anew).
%
%   In MATLAB, run it once (mex needs a configured C compiler: mex -setup C). Octave builds both
%   on the first wrapper call by itself where mkoctfile and cc work; BRIDGE_SETUP does it now.
%   Then start the warm worker, the first step of fast calls:
%     bridge_setup                 % once
%     bridge_serve('start')        % each session (or setpref('bridge', 'autostart', true))
%   Without them everything still works, through files (and, with no worker, a new Python per
%   call).
%
%   [MEXFOLDER, CLIENT] = BRIDGE_SETUP returns the folder of bridge_mex and the path of
%   bridge_client, and prints nothing.
%
%   Linux only (the warm worker is). Errors: bridge:build (a compiler is missing or fails; the
%   message has its output), MATLAB:maxrhs.
%
%   See also BRIDGE_SERVE, BRIDGE_DIAGNOSE, BRIDGE_CONV2.
bridge_nargs(varargin, 0, 0);
if ~isunix || ismac
  error('bridge:build', '%s', ...
    'bridge_setup: the compiled clients serve the warm worker, which runs on Linux only.');
end
folder = bridge_built('mex', true);
path = bridge_built('client', true);
if nargout > 0
  mexfolder = folder;
  client = path;
  return
end
fprintf('bridge_setup: the MEX client is in %s\n', folder);
fprintf('bridge_setup: the command-line client is %s\n', path);
fprintf('bridge_setup: now bridge_serve(''start''), then call bridge_conv2 & co. as usual.\n');
end
