function h = bridge_fspecial(varargin)
%BRIDGE_FSPECIAL  MATLAB's fspecial (Image Processing Toolbox), computed by the Python worker.
%   H = BRIDGE_FSPECIAL(TYPE) and H = BRIDGE_FSPECIAL(TYPE, P1, P2) return MATLAB's predefined
%   filters, with MATLAB's defaults: 'average' (hsize 3), 'disk' (radius 5), 'gaussian'
%   (hsize 3, sigma 0.5, taps below eps*max set to 0), 'laplacian' (alpha 0.2), 'log' (hsize 5,
%   sigma 0.5), 'motion' (len 9, theta 0), 'prewitt', 'sobel', 'unsharp' (alpha 0.2).
%   H = BRIDGE_FSPECIAL(..., 'Python', PYTHON) runs the interpreter PYTHON.
%
%   Unlike Octave's fspecial, 'gaussian' and 'log' have MATLAB's eps cut, 'motion' and 'log'
%   MATLAB's formulas.
%
%   Errors: MATLAB's identifiers (images:fspecial:..., MATLAB:fspecial:...) as the worker
%   reports them; MATLAB:minrhs, MATLAB:maxrhs for too few or too many arguments.
%
%   Example:
%     h = bridge_fspecial('gaussian', [5 5], 2)
%
%   See also FSPECIAL, BRIDGE_IMFILTER.
[args, python] = bridge_options(varargin);
bridge_nargs(args, 1, 3);
settings = struct('type', args{1});
if bridge_istext(settings.type)
  settings.type = char(settings.type);
end
names = {'p1', 'p2'};
for k = 2:numel(args)
  settings.(names{k - 1}) = args{k};
end
h = bridge_call('bridge_fspecial', 'fspecial', {}, {}, settings, python);
end
